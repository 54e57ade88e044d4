from dukcapil_shared.settings import load_settings
from dukcapil_shared.startup import reported_startup_errors
from dukcapil_shipping.settings import ShippingSettings


def main() -> None:
    with reported_startup_errors("shipping"):
        settings = load_settings(ShippingSettings)
        # Imported once the settings are known good: a refusal is told in a moment, not after every import.
        from dukcapil_shared.runtime import serve
        from dukcapil_shipping.bootstrap import build_app

        serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
