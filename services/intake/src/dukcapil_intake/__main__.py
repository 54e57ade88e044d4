from dukcapil_intake.bootstrap import build_app
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.runtime import serve


def main() -> None:
    settings = IntakeSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
