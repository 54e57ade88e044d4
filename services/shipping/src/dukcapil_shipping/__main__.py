from dukcapil_shared.runtime import serve
from dukcapil_shipping.bootstrap import build_app
from dukcapil_shipping.settings import ShippingSettings


def main() -> None:
    settings = ShippingSettings()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
