"""SchedulerX web: the Flask app factory, the REST API (flask-smorest) and the Jinja pages."""
