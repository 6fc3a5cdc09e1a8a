"""The license client: send commands to a site's license server pair over RabbitMQ."""

from services.client.client import LicenseClient
from services.client.errors import (
    BrokerUnavailable,
    ClientClosed,
    ClientError,
    CommandRejected,
    CommandTimeout,
    LicenseDenied,
    ProtocolError,
)
from services.client.lease import Lease, LeaseState

__all__ = [
    "BrokerUnavailable",
    "ClientClosed",
    "ClientError",
    "CommandRejected",
    "CommandTimeout",
    "Lease",
    "LeaseState",
    "LicenseClient",
    "LicenseDenied",
    "ProtocolError",
]
