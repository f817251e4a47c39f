"""The Annex 1 key tasks as an obligation (责任措施清单): the task list and its windows, the monthly progress form,
each task's state per unit, and the 重点任务 sheet."""
