"""Publishers: OAuth states, what the platform told about an account, the token-refresh lease, quota usage, post metrics.

Python-side defaults (utcnow) live on the models, not in SQL.
"""
from peewee import *
from schedulerx.db import JSONField


def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Publication(Model):
        class Meta:
            database = db
            table_name = 'publication'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Workspace(Model):
        class Meta:
            database = db
            table_name = 'workspace'

    class OAuthState(Model):
        state = CharField(unique=True, max_length=64)
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        platform = CharField(max_length=64)
        account = ForeignKeyField(Account, null=True, on_delete='CASCADE')
        code_verifier = TextField(default='')
        redirect_uri = TextField()
        display_name = CharField(max_length=200, default='')
        created_at = DateTimeField()
        expires_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'oauth_state'
    db.create_tables([OAuthState])

    class PublicationMetrics(Model):
        publication = ForeignKeyField(Publication, on_delete='CASCADE')
        fetched_at = DateTimeField()
        views = BigIntegerField(null=True)
        likes = BigIntegerField(null=True)
        comments = BigIntegerField(null=True)
        shares = BigIntegerField(null=True)
        raw = JSONField(default=dict)
        class Meta:
            database = db
            table_name = 'publication_metrics'
            indexes = ((('publication', 'fetched_at'), False),)
    db.create_tables([PublicationMetrics])

    class QuotaUsage(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        day = DateField()
        unit = CharField(max_length=64)
        used = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'quota_usage'
            indexes = ((('account', 'day', 'unit'), True),)
    db.create_tables([QuotaUsage])

    migrator.migrate(migrator.add_column('account', 'platform_info', JSONField(default=dict)))
    migrator.migrate(migrator.add_column('account', 'refresh_lock', CharField(null=True, max_length=32)))
    migrator.migrate(migrator.add_column('account', 'refresh_lock_until', DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('account', 'refresh_lock_until'))
    migrator.migrate(migrator.drop_column('account', 'refresh_lock'))
    migrator.migrate(migrator.drop_column('account', 'platform_info'))
    migrator.migrate(migrator.drop_table('quota_usage'))
    migrator.migrate(migrator.drop_table('publication_metrics'))
    migrator.migrate(migrator.drop_table('oauth_state'))
