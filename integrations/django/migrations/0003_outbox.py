"""The outbox table (QueuedEmail): messages queued by QueuedEmailBackend for a worker."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("acumbamail", "0002_message_id_fits_mysql_keys"),
    ]

    operations = [
        migrations.CreateModel(
            name="QueuedEmail",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("message_id", models.CharField(max_length=400)),
                ("sender", models.CharField(max_length=320)),
                ("recipients", models.JSONField(default=list)),
                ("data", models.BinaryField()),
                ("smtputf8", models.IntegerField(default=0)),
                ("category", models.CharField(blank=True, max_length=255, null=True)),
                ("metadata", models.JSONField(blank=True, default=dict, null=True)),
                ("priority", models.IntegerField(default=0)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "queued"),
                            ("in_flight", "in flight"),
                            ("sent", "sent"),
                            ("failed", "failed"),
                        ],
                        default="queued",
                        max_length=16,
                    ),
                ),
                ("attempts", models.IntegerField(default=0)),
                ("send_after", models.DateTimeField()),
                ("created_at", models.DateTimeField()),
                ("lease_until", models.DateTimeField(blank=True, null=True)),
                ("worker", models.CharField(blank=True, max_length=255, null=True)),
                ("last_error", models.TextField(blank=True, null=True)),
                ("reply_code", models.IntegerField(blank=True, null=True)),
                ("reply_text", models.TextField(blank=True, null=True)),
                ("queue_id", models.CharField(blank=True, max_length=255, null=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "queued email",
                "db_table": "acumbamail_outbox",
                "ordering": ("-created_at", "-id"),
                "indexes": [
                    models.Index(fields=["status", "send_after"], name="ix_acumbamail_outbox_due"),
                    models.Index(fields=["status", "lease_until"], name="ix_acumbamail_outbox_lease"),
                    models.Index(fields=["message_id"], name="ix_acumbamail_outbox_message"),
                ],
            },
        ),
    ]
