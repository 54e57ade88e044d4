import uvicorn

from dukcapil_shared.settings import load_settings
from dukcapil_shared.startup import reported_startup_errors
from dukcapil_web.settings import WebSettings


def main() -> None:
    with reported_startup_errors("web"):
        settings = load_settings(WebSettings)
        # Imported once the settings are known good: a refusal is told in a moment, not after every import.
        from dukcapil_web.bootstrap import build_app

        config = uvicorn.Config(
            build_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=max(1, int(settings.graceful_timeout)),
            # X-Forwarded-For (the citizen's address, for the rate limits) is believed only from the proxies named.
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips or None,
        )
        uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
