"""Every table of the async-teleconsultoria feature, for ``server.db.metadata`` to import."""

from server.attachments.models import Attachment
from server.cases.models import Case, CaseTransition, QueueDeadline
from server.sof.models import Sof

__all__ = ["Attachment", "Case", "CaseTransition", "QueueDeadline", "Sof"]
