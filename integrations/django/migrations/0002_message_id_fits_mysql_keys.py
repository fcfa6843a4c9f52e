"""Message-IDs kept to 400 characters, so the events' (message_id, recipient, type) index fits
InnoDB's 3072-byte key limit in utf8mb4 (see ``models.MESSAGE_ID_LENGTH``)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("acumbamail", "0001_initial")]

    operations = [
        migrations.AlterField(model_name="send", name="message_id", field=models.CharField(max_length=400)),
        migrations.AlterField(model_name="event", name="message_id",
                              field=models.CharField(blank=True, max_length=400, null=True)),
    ]
