"""MotionBridge for MotionBuilder: an FBTool in HumanIK or Direct mode (pyfbsdk only here)."""
