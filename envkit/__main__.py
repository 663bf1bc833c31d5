from envkit.cli.app import main

main()
