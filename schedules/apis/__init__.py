"""The operators' API over schedules (batches) and executions; routes in
admin_ui/urls_operations.py."""
