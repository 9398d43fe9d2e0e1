from saqta.cli.app import main

main()
