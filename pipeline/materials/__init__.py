"""The monthly work materials as an obligation (月度工作情况材料, stamped and electronic, due by the 16th): what a
file is and whose, its receipt, each unit's state, the 催报/通报 parts, the 材料 sheet and the month's pack."""
