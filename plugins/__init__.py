"""First-party plugins. Each subpackage registers through the ``schedulerx`` entry-point
group exactly as a third-party package would; the core names none of them."""
