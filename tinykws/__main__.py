from tinykws.cli.main import main

main()
