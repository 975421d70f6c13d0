"""Scheduling (issue 3): queue rules on accounts, reservations, occurrence errors."""
from peewee import *
from playhouse.migrate import migrate

from schedulerx.db import JSONField


def up(migrator, db):
    migrate(
        migrator.add_column('account', 'min_gap', IntegerField(default=0)),
        migrator.add_column('account', 'max_per_day', IntegerField(null=True)),
        migrator.add_column('account', 'blackout_dates', JSONField(default=list)),
        migrator.add_column('occurrence', 'error', TextField(null=True)),
    )

    class Workspace(Model):
        class Meta:
            database = db
            table_name = 'workspace'

    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Reservation(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        account = ForeignKeyField(Account, on_delete='CASCADE')
        at = DateTimeField()
        topic = CharField(max_length=500)
        note = TextField(default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'reservation'
            indexes = ((('account', 'at'), True),)
    db.create_tables([Reservation])
