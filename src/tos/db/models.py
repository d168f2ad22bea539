"""Imports every module's tables so Base.metadata is complete (Alembic, tests), and the session
listeners that depend on them; every engine of the process is made after this import."""

from tos.audit import models as audit_models  # noqa: F401
from tos.bookings import models as bookings_models  # noqa: F401
from tos.catalog import models as catalog_models  # noqa: F401
from tos.channels import models as channels_models  # noqa: F401
from tos.crm import models as crm_models  # noqa: F401
from tos.db.base import Base
from tos.documents import models as documents_models  # noqa: F401
from tos.idempotency import models as idempotency_models  # noqa: F401
from tos.identity import models as identity_models  # noqa: F401
from tos.inventory import models as inventory_models  # noqa: F401

# Session listeners that keep derived state in step with the tables above.
from tos.inventory import versions as inventory_versions  # noqa: E402, F401
from tos.messaging import models as messaging_models  # noqa: F401
from tos.octo import models as octo_models  # noqa: F401
from tos.operations import models as operations_models  # noqa: F401
from tos.outbox import models as outbox_models  # noqa: F401
from tos.payments import models as payments_models  # noqa: F401
from tos.pricing import models as pricing_models  # noqa: F401

metadata = Base.metadata
