"""Airflow-side helpers the four day DAGs share (not a day module: no day imports it)."""
