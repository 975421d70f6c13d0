"""Each tick looks for AI occurrences left 'generating'; an index keeps that off a table scan."""


def up(migrator, db):
    migrator.migrate(migrator.add_index('occurrence', ('status', 'created_at')))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('occurrence', 'occurrence_status_created_at'))
