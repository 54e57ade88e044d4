from dukcapil_shared.runtime import serve

from dukcapil_intake.bootstrap import build_app
from dukcapil_intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
