import uvicorn

from dukcapil_devtools.courier_simulator.app import SimulatorSettings, create_app


def main() -> None:
    settings = SimulatorSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False)


if __name__ == "__main__":
    main()
