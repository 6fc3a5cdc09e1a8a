"""Hard limits on what a command may carry.

They exist so that one bad client cannot make every node store megabytes of junk
forever (the log is permanent). Documented in docs/protocol.md; change both together.
"""

MAX_NAME = 128  # feature names, devices, users, license ids, actors
MAX_VERSION = 64  # "2017 (17.0)" style version strings
MAX_REASON = 500  # free text: force-release reasons and the like
MAX_FEATURES_PER_LICENSE = 256
MAX_SEATS = 10_000_000_000  # the seed shows tag counts of 400,000,000
MAX_ACQUIRE_COUNT = 10_000_000_000
MIN_LEASE_SECONDS = 5
MAX_LEASE_SECONDS = 7 * 24 * 3600
DEFAULT_LEASE_SECONDS = 60
MAX_LEASES_PER_RENEWAL = 1_000
MAX_COMMAND_BYTES = 256 * 1024
# How far a signed command's issue time, or a watchdog's observation time, may lie ahead of
# the writer's clock (clock skew); the default of LICENSING_SIGNATURE_WINDOW.
SIGNATURE_WINDOW_SECONDS = 300
