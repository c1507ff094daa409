"""Expert models the agent plans over: speech-to-text, object detection, pose, faces.

Each expert is an `experts.base.Expert`; `experts.registry` lists them for the agent.
"""
