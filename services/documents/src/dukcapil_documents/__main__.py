from dukcapil_documents.bootstrap import build_app
from dukcapil_documents.settings import DocumentsSettings
from dukcapil_shared.runtime import serve
from dukcapil_shared.settings import load_settings
from dukcapil_shared.startup import reported_startup_errors


def main() -> None:
    with reported_startup_errors("documents"):
        settings = load_settings(DocumentsSettings)
        serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
