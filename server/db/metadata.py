"""Imports every model module so ``Base.metadata`` is complete (Alembic, create_all).

Each package that defines models adds its import here.
"""

from server.cases import models_all as cases_models
from server.chat import models as chat_models
from server.db import models
from server.db.base import Base
from server.documents import models as documents_models
from server.records import models as records_models

metadata = Base.metadata

__all__ = [
    "cases_models",
    "chat_models",
    "documents_models",
    "metadata",
    "models",
    "records_models",
]
