"""Git itself: the one place that runs git processes, reads and writes its objects and refs,
and follows its write rules.
"""
