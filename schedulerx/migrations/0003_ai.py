"""AI: personas, template versions and persona, provider settings, jobs, call records.

Also the partial unique index that keeps at most one active template per
workspace and purpose, whatever the races.
"""
from peewee import *
from schedulerx.db import JSONField


def up(migrator, db):
    class Workspace(Model):
        class Meta:
            database = db
            table_name = 'workspace'

    class Persona(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        name = CharField(max_length=100)
        instructions = TextField(default='')
        tone = CharField(max_length=100, default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'persona'
            indexes = ((('workspace', 'name'), True),)
    db.create_tables([Persona])

    persona = ForeignKeyField(Persona, null=True, on_delete='SET NULL', field=Persona.id)
    migrator.migrate(migrator.add_column('prompt_template', 'persona_id', persona))

    class PromptTemplate(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        purpose = CharField(max_length=32)
        is_active = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'prompt_template'
    index = PromptTemplate.index(PromptTemplate.workspace, PromptTemplate.purpose, unique=True,
                                 where=SQL('is_active'), name='prompt_template_one_active')
    # The schema manager inlines the WHERE clause: DDL takes no parameters.
    db.execute(PromptTemplate._schema._create_index(index, safe=False))

    class PromptTemplateVersion(Model):
        template = ForeignKeyField(PromptTemplate, on_delete='CASCADE')
        version = IntegerField()
        name = CharField(max_length=200)
        body = TextField()
        provider = CharField(max_length=64, default='')
        model = CharField(max_length=200, default='')
        params = JSONField(default=dict)
        persona_id = IntegerField(null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'prompt_template_version'
            indexes = ((('template', 'version'), True),)
    db.create_tables([PromptTemplateVersion])

    class AIProviderConfig(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        provider = CharField(max_length=64)
        settings = JSONField(default=dict)
        credentials = TextField(default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'ai_provider_config'
            indexes = ((('workspace', 'provider'), True),)
    db.create_tables([AIProviderConfig])

    class AIJob(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        status = CharField(max_length=16, default='pending')
        request = JSONField(default=dict)
        result = JSONField(null=True)
        error_code = CharField(max_length=100, null=True)
        error_message = TextField(null=True)
        attempts = IntegerField(default=0)
        claim_token = CharField(max_length=32, null=True)
        due_at = DateTimeField(null=True)
        created_at = DateTimeField()
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'ai_job'
            indexes = ((('status', 'due_at'), False),)
    db.create_tables([AIJob])

    class AICall(Model):
        workspace = ForeignKeyField(Workspace, on_delete='CASCADE')
        job = ForeignKeyField(AIJob, null=True, on_delete='SET NULL')
        template = ForeignKeyField(PromptTemplate, null=True, on_delete='SET NULL')
        template_version = IntegerField(null=True)
        purpose = CharField(max_length=32)
        provider = CharField(max_length=64)
        model = CharField(max_length=200, default='')
        prompt = TextField(default='')
        raw_answer = TextField(null=True)
        status = CharField(max_length=16)
        error = TextField(null=True)
        input_tokens = IntegerField(null=True)
        output_tokens = IntegerField(null=True)
        latency_ms = IntegerField(default=0)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'ai_call'
            indexes = ((('workspace', 'created_at'), False),)
    db.create_tables([AICall])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('ai_call'))
    migrator.migrate(migrator.drop_table('ai_job'))
    migrator.migrate(migrator.drop_table('ai_provider_config'))
    migrator.migrate(migrator.drop_table('prompt_template_version'))
    db.execute_sql('DROP INDEX IF EXISTS prompt_template_one_active')
    migrator.migrate(migrator.drop_column('prompt_template', 'persona_id'))
    migrator.migrate(migrator.drop_table('persona'))
