"""The Django models declare the same schema as the core's one spec (acumbamail_smtp.store.schema):
the same columns (type, length, nullability, key), unique keys and indexes, in the app's tables."""

from __future__ import annotations

import pytest
from acumbamail_smtp.integrations.django import models
from acumbamail_smtp.store import schema
from django.db import connection
from django.db import models as django_models

#: The spec's type of each Django field class (the ``raw`` JSON text is a JSONField in Django).
_TYPES = {django_models.BigAutoField: "id", django_models.AutoField: "id", django_models.CharField: "str",
          django_models.TextField: "text", django_models.IntegerField: "int", django_models.JSONField: "json",
          django_models.DateTimeField: "time", django_models.BinaryField: "bytes"}
_MODELS = {"sends": models.Send, "events": models.Event, "suppressions": models.Suppression,
           "outbox": models.QueuedEmail}


def _described(model: type[django_models.Model]) -> tuple[list[schema.Column], list[schema.Index]]:
    """``model``'s columns and indexes in the spec's terms (index names are the app's own)."""
    columns = [schema.Column(f.column, _TYPES[type(f)], f.max_length if isinstance(f, django_models.CharField)
                             else None, nullable=f.null, primary_key=f.primary_key)
               for f in model._meta.concrete_fields]
    indexes = [schema.Index("", tuple(model._meta.get_field(name).column for name in index.fields))
               for index in model._meta.indexes]
    indexes += [schema.Index("", (f.column,), unique=True) for f in model._meta.concrete_fields
                if f.unique and not f.primary_key]
    return columns, indexes


@pytest.mark.parametrize("table", sorted(_MODELS))
def test_the_model_declares_the_spec(table: str) -> None:
    spec = schema.TABLE[table]
    columns, indexes = _described(_MODELS[table])
    assert columns == list(spec.columns)
    assert sorted((i.columns, i.unique) for i in indexes) == sorted((i.columns, i.unique) for i in spec.indexes)
    assert _MODELS[table]._meta.db_table == f"acumbamail_{table}"


@pytest.mark.django_db
def test_the_migrated_tables_have_the_spec_columns_and_indexes() -> None:
    with connection.cursor() as cursor:
        for table, model in _MODELS.items():
            spec = schema.TABLE[table]
            described = connection.introspection.get_table_description(cursor, model._meta.db_table)
            # by name: a migration that alters a column may rebuild a SQLite table in another order
            assert sorted((c.name, bool(c.null_ok)) for c in described) == \
                sorted((c.name, c.nullable) for c in spec.columns)
            found = connection.introspection.get_constraints(cursor, model._meta.db_table)
            keyed = sorted((tuple(c["columns"]), bool(c["unique"])) for c in found.values()
                           if (c["index"] or c["unique"]) and not c["primary_key"])
            assert keyed == sorted((i.columns, i.unique) for i in spec.indexes)
