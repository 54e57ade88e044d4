"""A SIAK-like population register, run as its own process: `python -m dukcapil_devtools.register_simulator`."""

import uvicorn

from dukcapil_devtools.register_simulator.app import RegisterSimulatorSettings, create_app


def main() -> None:
    settings = RegisterSimulatorSettings()
    app = create_app(settings)
    population = app.state.population
    print(
        f"Register simulator on http://{settings.host}:{settings.port}: {len(population.residents)} residents in "
        f"{len(population.families)} families (seed {settings.seed}); find some with "
        f"GET /api/v1/keluarga?kecamatan=Rangkasbitung&limit=5 and the header X-API-Key",
        flush=True,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False)


if __name__ == "__main__":
    main()
