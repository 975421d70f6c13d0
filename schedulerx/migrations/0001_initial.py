"""Initial schema. Python-side defaults (utcnow) live on the models, not in SQL."""
from peewee import *
from schedulerx.db import JSONField


def up(migrator, db):
    class Workspace(Model):
        name = CharField(max_length=200)
        timezone = CharField(max_length=64, default='UTC')
        settings = JSONField(default=dict)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'workspace'
    db.create_tables([Workspace])

    class Account(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        platform = CharField(max_length=64)
        display_name = CharField(max_length=200)
        credentials = TextField(default='')
        settings = JSONField(default=dict)
        token_expires_at = DateTimeField(null=True)
        health = CharField(max_length=24, default='connected')
        health_message = TextField(default='')
        slots = JSONField(default=list)
        timezone = CharField(null=True, max_length=64)
        retry_policy = JSONField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'account'
    db.create_tables([Account])

    class User(Model):
        email = CharField(unique=True, max_length=254)
        name = CharField(max_length=200, default='')
        password_hash = CharField(max_length=300)
        is_active = BooleanField(default=True)
        created_at = DateTimeField()
        last_login_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'user'
    db.create_tables([User])

    class ApiToken(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        name = CharField(max_length=200)
        prefix = CharField(max_length=16)
        token_hash = CharField(unique=True, max_length=64)
        created_at = DateTimeField()
        last_used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'api_token'
    db.create_tables([ApiToken])

    class Event(Model):
        workspace = ForeignKeyField(Workspace, null=True, on_delete='CASCADE')
        time = DateTimeField()
        level = CharField(max_length=8, default='info')
        source = CharField(max_length=64)
        subject_type = CharField(null=True, max_length=32)
        subject_id = IntegerField(null=True)
        message = TextField()
        data = JSONField(default=dict)
        class Meta:
            database = db
            table_name = 'event'
            indexes = ((('workspace', 'time'), False), (('subject_type', 'subject_id'), False))
    db.create_tables([Event])

    class Heartbeat(Model):
        name = CharField(unique=True, max_length=200)
        kind = CharField(max_length=16)
        hostname = CharField(max_length=200, default='')
        pid = IntegerField(default=0)
        started_at = DateTimeField()
        last_seen = DateTimeField()
        info = JSONField(default=dict)
        class Meta:
            database = db
            table_name = 'heartbeat'
    db.create_tables([Heartbeat])

    class MediaAsset(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        storage = CharField(max_length=64)
        storage_key = CharField(max_length=500)
        filename = CharField()
        sha256 = CharField(index=True, max_length=64)
        mime = CharField(max_length=128)
        size = BigIntegerField()
        width = IntegerField(null=True)
        height = IntegerField(null=True)
        duration = FloatField(null=True)
        thumbnail_key = CharField(null=True, max_length=500)
        tags = JSONField(default=list)
        meta = JSONField(default=dict)
        status = CharField(max_length=16, default='ready')
        created_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'media_asset'
    db.create_tables([MediaAsset])

    class Membership(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        user = ForeignKeyField(User, on_delete='CASCADE')
        role = CharField(max_length=16, default='owner')
        class Meta:
            database = db
            table_name = 'membership'
            indexes = ((('workspace', 'user'), True),)
    db.create_tables([Membership])

    class Schedule(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        name = CharField(max_length=200)
        rule_kind = CharField(max_length=16)
        rule = TextField()
        timezone = CharField(max_length=64, default='UTC')
        starts_at = DateTimeField(null=True)
        ends_at = DateTimeField(null=True)
        topic_template = TextField(default='')
        action = JSONField(default=dict)
        accounts = JSONField(default=list)
        enabled = BooleanField(default=True)
        misfire_policy = CharField(max_length=16, default='latest')
        max_lateness = IntegerField(default=3600)
        next_run_at = DateTimeField(index=True, null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'schedule'
    db.create_tables([Schedule])

    class Post(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        title = CharField(max_length=500, default='')
        body = TextField(default='')
        tags = JSONField(default=list)
        media = JSONField(default=list)
        ai_metadata = JSONField(default=dict)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'post'
    db.create_tables([Post])

    class Occurrence(Model):
        schedule = ForeignKeyField(Schedule, on_delete='CASCADE')
        occurs_at = DateTimeField()
        status = CharField(max_length=16, default='created')
        post = ForeignKeyField(Post, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'occurrence'
            indexes = ((('schedule', 'occurs_at'), True),)
    db.create_tables([Occurrence])

    class PipelineRun(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        name = CharField(max_length=200)
        status = CharField(max_length=16, default='pending')
        inputs = JSONField(default=dict)
        outputs = JSONField(default=dict)
        progress = FloatField(default=0.0)
        error = TextField(null=True)
        created_at = DateTimeField()
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'pipeline_run'
    db.create_tables([PipelineRun])

    class PromptTemplate(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        name = CharField(max_length=200)
        purpose = CharField(max_length=32)
        body = TextField()
        provider = CharField(max_length=64, default='offline')
        model = CharField(max_length=200, default='')
        params = JSONField(default=dict)
        is_active = BooleanField(default=False)
        version = IntegerField(default=1)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'prompt_template'
    db.create_tables([PromptTemplate])

    class Publication(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        post = ForeignKeyField(Post, on_delete='CASCADE')
        account = ForeignKeyField(Account, on_delete='CASCADE')
        occurrence = ForeignKeyField(Occurrence, null=True, on_delete='SET NULL')
        status = CharField(max_length=16, default='scheduled')
        scheduled_at = DateTimeField()
        timezone = CharField(max_length=64, default='UTC')
        due_at = DateTimeField(null=True)
        attempts = IntegerField(default=0)
        max_attempts = IntegerField(default=3)
        retry_strategy = CharField(max_length=16, default='exponential')
        retry_base = FloatField(default=60.0)
        retry_max = FloatField(default=3600.0)
        next_attempt_at = DateTimeField(null=True)
        lease_until = DateTimeField(null=True)
        claim_token = CharField(null=True, max_length=32)
        idempotency_key = CharField(unique=True, max_length=64)
        remote_id = CharField(null=True, max_length=500)
        remote_url = TextField(null=True)
        error_code = CharField(null=True, max_length=100)
        error_message = TextField(null=True)
        error_raw = TextField(null=True)
        published_at = DateTimeField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'publication'
            indexes = ((('status', 'due_at'), False), (('workspace', 'status', 'scheduled_at'), False), (('account', 'scheduled_at'), False))
    db.create_tables([Publication])

    class PublishAttempt(Model):
        publication = ForeignKeyField(Publication, on_delete='CASCADE')
        number = IntegerField()
        claim_token = CharField(max_length=32)
        started_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        outcome = CharField(max_length=16, default='running')
        error_code = CharField(null=True, max_length=100)
        error_message = TextField(null=True)
        raw_response = TextField(null=True)
        worker = CharField(max_length=200, default='')
        class Meta:
            database = db
            table_name = 'publish_attempt'
    db.create_tables([PublishAttempt])

    class StageRun(Model):
        run = ForeignKeyField(PipelineRun, on_delete='CASCADE')
        name = CharField(max_length=100)
        position = IntegerField()
        status = CharField(max_length=16, default='pending')
        progress = FloatField(default=0.0)
        inputs = JSONField(default=dict)
        outputs = JSONField(default=dict)
        logs = TextField(default='')
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'stage_run'
    db.create_tables([StageRun])

    class Variant(Model):
        post = ForeignKeyField(Post, on_delete='CASCADE')
        platform = CharField(null=True, max_length=64)
        account = ForeignKeyField(Account, null=True, on_delete='CASCADE')
        title = CharField(null=True, max_length=500)
        body = TextField(null=True)
        options = JSONField(default=dict)
        class Meta:
            database = db
            table_name = 'variant'
    db.create_tables([Variant])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('variant'))
    migrator.migrate(migrator.drop_table('stage_run'))
    migrator.migrate(migrator.drop_table('publish_attempt'))
    migrator.migrate(migrator.drop_table('publication'))
    migrator.migrate(migrator.drop_table('prompt_template'))
    migrator.migrate(migrator.drop_table('pipeline_run'))
    migrator.migrate(migrator.drop_table('occurrence'))
    migrator.migrate(migrator.drop_table('post'))
    migrator.migrate(migrator.drop_table('schedule'))
    migrator.migrate(migrator.drop_table('membership'))
    migrator.migrate(migrator.drop_table('media_asset'))
    migrator.migrate(migrator.drop_table('heartbeat'))
    migrator.migrate(migrator.drop_table('event'))
    migrator.migrate(migrator.drop_table('api_token'))
    migrator.migrate(migrator.drop_table('user'))
    migrator.migrate(migrator.drop_table('account'))
    migrator.migrate(migrator.drop_table('workspace'))
