from dukcapil_documents.settings import DocumentsSettings
from dukcapil_shared.settings import load_settings
from dukcapil_shared.startup import reported_startup_errors


def main() -> None:
    with reported_startup_errors("documents"):
        settings = load_settings(DocumentsSettings)
        # Imported once the settings are known good: a refusal is told in a moment, not after every import.
        from dukcapil_documents.bootstrap import build_app
        from dukcapil_shared.runtime import serve

        serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
