// replaced by the worker service
