from issuer import create_app

app = create_app()
