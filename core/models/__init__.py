"""SQLModel tables. Importing this package registers every table on SQLModel.metadata."""
from core.models.common import utcnow  # noqa: F401
from core.models.entity import BusinessEntity  # noqa: F401
from core.models.customers import Customer  # noqa: F401
from core.models.catalog import Product, Plan  # noqa: F401
from core.models.contracts import Contract, ContractLine  # noqa: F401
from core.models.metering import BillableMetric, UsageEvent  # noqa: F401
from core.models.invoices import Invoice, InvoiceLine  # noqa: F401
from core.models.auth import User, AuditLog  # noqa: F401
from core.models.tax import TaxRate, WalletEntry  # noqa: F401
from core.models.platform import AlertFiring, ApiKey, DataSource, SourceSync, UsageAlert  # noqa: F401
from core.models.documents import DocumentTemplate, EmailLog  # noqa: F401
from core.models.payments import (  # noqa: F401
    CreditNote, CreditNoteLine, Payment, PaymentAllocation, ProviderEvent, Refund,
)
from core.models.ledger import (  # noqa: F401
    Account, ErpAccountMap, JournalEntry, JournalLine, RevenueSchedule, RevenueScheduleRow,
)
from core.models.segments import *  # noqa: F401,F403
from core.models.dunning import *  # noqa: F401,F403
from core.models.entitlements import *  # noqa: F401,F403
from core.models.webhooks import *  # noqa: F401,F403
from core.models.api import *  # noqa: F401,F403
from core.models.analytics import *  # noqa: F401,F403
from core.models.pilot import *  # noqa: F401,F403
