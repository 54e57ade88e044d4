from dukcapil_review.bootstrap import build_app
from dukcapil_review.settings import ReviewSettings
from dukcapil_shared.runtime import serve


def main() -> None:
    settings = ReviewSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
