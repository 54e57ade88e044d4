from dukcapil_documents.bootstrap import build_app
from dukcapil_documents.settings import DocumentsSettings
from dukcapil_shared.runtime import serve


def main() -> None:
    settings = DocumentsSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
