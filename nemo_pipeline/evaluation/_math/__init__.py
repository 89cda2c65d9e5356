"""Helpers of the math grader (nemo_pipeline.evaluation.math_grader): answer spans in prose, and math-verify."""
