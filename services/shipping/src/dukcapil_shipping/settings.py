from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from yarl import URL

from dukcapil_shared.settings import ServiceSettings, is_stand_in

DEVELOPMENT_USERNAME = "dukcapil-lebak-dev"


class ShippingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPPING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/shipping.db"
    port: int = 8004

    courier_url: str = Field(default="http://127.0.0.1:8010", description="Base URL of the courier's partner API")
    # Development-only credentials, matching the courier simulator's (dukcapil_devtools) defaults; set real ones.
    courier_username: str = DEVELOPMENT_USERNAME
    courier_api_key: SecretStr = SecretStr("development-only-courier-api-key")
    courier_branch: str = Field(default="RKB000", description="OLSHOP_BRANCH: the courier branch of our account")
    courier_customer: str = Field(default="80000000", description="OLSHOP_CUST: our customer number")
    courier_service: str = Field(default="REG", description="Service level booked")
    courier_timeout: float = Field(default=5.0, description="Seconds before one courier call gives up")
    courier_attempts: int = Field(default=3, ge=1, description="Tries per courier call on transient errors")
    origin_code: str = Field(default="RKB10000", description="Courier tariff code where parcels leave from")
    destination_code: str = Field(
        default="RKB10000",
        description="Courier tariff code for parcels booked before the destination table gave each address its own",
    )
    destinations_file: Path | None = Field(
        default=None,
        description="The office's destination table (CSV: postal and courier destination codes per kecamatan and "
        "village); the packaged data/destinations.csv when not set",
    )

    sender_name: str = "Disdukcapil Kabupaten Lebak"
    sender_address: str = "Kantor Dinas Kependudukan dan Pencatatan Sipil, Rangkasbitung"
    sender_city: str = "LEBAK"
    sender_zip: str = "42311"
    sender_phone: str = "0252000000"

    booking_interval: float = Field(
        default=1.0,
        description="Seconds between two rounds of courier booking. A new shipment for the courier is booked as soon "
        "as it is stored; the rounds take up the bookings due again after a failure or a lapsed lease",
    )
    booking_batch_size: int = Field(default=50, description="Shipments booked per round at most")
    booking_lease: float = Field(
        default=120.0,
        description="Seconds a replica keeps the shipments it is booking to itself; must outlast a booking round",
    )

    tracking_interval: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between two rounds of courier tracking; also how soon an airway bill the courier "
        "no longer knows is flagged courier_lost_parcel",
    )
    tracking_batch_size: int = Field(default=100, description="Shipments asked about per round at most")

    stuck_after_hours: float = Field(
        default=24.0,
        gt=0,
        description="Hours without a new courier milestone after which a parcel on its way is flagged "
        "stuck_in_transit (a REG parcel within Lebak moves at least daily)",
    )
    stuck_check_interval: float = Field(default=60.0, description="Seconds between two rounds of the stuck check")

    def production_problems(self) -> list[str]:
        """Production books parcels with the office's courier account, never the simulator, which marks every parcel
        delivered within seconds."""
        problems = super().production_problems()
        courier = URL(self.courier_url)
        if is_stand_in(courier.host, courier.port):
            problems.append("set SHIPPING_COURIER_URL to the courier's partner API, not the simulator")
        if self.courier_username == DEVELOPMENT_USERNAME:
            problems.append("set SHIPPING_COURIER_USERNAME to the office's courier account, not the simulator's")
        return problems
