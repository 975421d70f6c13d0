"""SchedulerX workers: the Dramatiq broker, the tick/publish/reconcile actors and the clock."""
