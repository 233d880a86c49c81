"""The operators' API over schedules (batches) and executions; routes in
dashboard/urls_operations.py."""
