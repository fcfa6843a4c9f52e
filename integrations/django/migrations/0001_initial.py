"""The event store's tables: sends, events (unique ``event_id``) and suppressions."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Suppression",
            fields=[
                ("address", models.CharField(max_length=320, primary_key=True, serialize=False)),
                ("reason", models.CharField(
                    choices=[("hard_bounce", "hard bounce"), ("complaint", "complaint"),
                             ("soft_bounce", "soft bounce"), ("manual", "manual")],
                    default="manual", max_length=32)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("event_id", models.CharField(blank=True, max_length=64, null=True)),
            ],
            options={"db_table": "acumbamail_suppressions", "ordering": ("address",)},
        ),
        migrations.CreateModel(
            name="Event",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("event_id", models.CharField(max_length=64, unique=True)),
                ("type", models.CharField(max_length=32)),
                ("recipient", models.CharField(max_length=320)),
                ("timestamp", models.DateTimeField()),
                ("message_key", models.CharField(blank=True, max_length=255, null=True)),
                ("url", models.TextField(blank=True, null=True)),
                ("category", models.CharField(blank=True, max_length=255, null=True)),
                ("message_id", models.CharField(blank=True, max_length=998, null=True)),
                ("raw", models.JSONField(default=dict)),
                ("received_at", models.DateTimeField()),
            ],
            options={
                "db_table": "acumbamail_events",
                "ordering": ("-timestamp", "-id"),
                "indexes": [
                    models.Index(fields=["type", "timestamp"], name="ix_acumbamail_events_type"),
                    models.Index(fields=["category", "timestamp"], name="ix_acumbamail_events_category"),
                    models.Index(fields=["recipient", "timestamp"], name="ix_acumbamail_events_rcpt"),
                    models.Index(fields=["message_key"], name="ix_acumbamail_events_key"),
                    models.Index(fields=["message_id", "recipient", "type"],
                                 name="ix_acumbamail_events_message"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Send",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("recipient", models.CharField(max_length=320)),
                ("message_id", models.CharField(max_length=998)),
                ("queue_id", models.CharField(blank=True, max_length=255, null=True)),
                ("category", models.CharField(blank=True, max_length=255, null=True)),
                ("sent_at", models.DateTimeField()),
                ("status", models.CharField(max_length=16)),
                ("reply_code", models.IntegerField(blank=True, null=True)),
                ("reply_text", models.TextField(blank=True, null=True)),
            ],
            options={
                "db_table": "acumbamail_sends",
                "ordering": ("-sent_at", "-id"),
                "indexes": [
                    models.Index(fields=["queue_id"], name="ix_acumbamail_sends_queue"),
                    models.Index(fields=["recipient", "sent_at"], name="ix_acumbamail_sends_rcpt"),
                    models.Index(fields=["category", "sent_at"], name="ix_acumbamail_sends_category"),
                    models.Index(fields=["sent_at"], name="ix_acumbamail_sends_sent_at"),
                ],
            },
        ),
    ]
