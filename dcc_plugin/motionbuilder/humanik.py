"""HumanIK mode: an SMPL-X source skeleton in the scene, characterised, driving the user's
character through its HumanIK input (the way Xsens and Rokoko devices feed MotionBuilder)."""

from __future__ import annotations

from pyfbsdk import (
    FBCharacter,
    FBCharacterInputType,
    FBCharacterPlotWhere,
    FBModel,
    FBModelSkeleton,
    FBPlotOptions,
    FBPropertyListObject,
    FBSystem,
    FBVector3d,
)

from motionbridge.dcc_plugin.core import humanik
from motionbridge.dcc_plugin.core.host import HostError

NAMESPACE = "MB_Source"
CHARACTER = f"{NAMESPACE}_Character"


def _find_character(name: str) -> FBCharacter | None:
    for character in FBSystem().Scene.Characters:
        if character.LongName == name:
            return character
    return None


def _skeleton_models() -> dict[str, FBModelSkeleton]:
    return {c.LongName: c for c in FBSystem().Scene.Components if isinstance(c, FBModelSkeleton)}


def source_joints() -> list[FBModel]:
    """Create (or find) the SMPL-X source skeleton; joints in SMPL-X order."""
    skeleton = humanik.source_skeleton(up_axis="y", units="cm")
    existing = _skeleton_models()
    joints: list[FBModel] = []
    for j, name in enumerate(skeleton.names):
        long_name = f"{NAMESPACE}:{name}"
        model = existing.get(long_name)
        if model is None:
            model = FBModelSkeleton(long_name)
            model.Show = True
        parent = int(skeleton.parents[j])
        if parent >= 0:
            model.Parent = joints[parent]
        t = skeleton.rest_translations[j]
        model.Translation = FBVector3d(float(t[0]), float(t[1]), float(t[2]))
        model.Rotation = FBVector3d(0.0, 0.0, 0.0)
        joints.append(model)
    return joints


def existing_source_joints(take_name: str) -> list[FBModel]:
    """The source skeleton's joints in SMPL-X order, as they are: nothing is created or moved
    (a take keyed on them is being read)."""
    existing = _skeleton_models()
    long_names = [f"{NAMESPACE}:{name}" for name in humanik.source_skeleton().names]
    missing = [n for n in long_names if n not in existing]
    if missing:
        raise HostError(f"take {take_name!r} is keyed on the {NAMESPACE} skeleton, which has lost {missing[0]}; it cannot be exported")
    return [existing[n] for n in long_names]


def characterise_source(joints: list[FBModel]) -> FBCharacter:
    character = _find_character(CHARACTER) or FBCharacter(CHARACTER)
    character.SetCharacterizeOn(False)
    by_name = {m.LongName.split(":", 1)[-1]: m for m in joints}
    for joint, slot in humanik.slot_map().items():
        link = character.PropertyList.Find(f"{slot}Link")
        if isinstance(link, FBPropertyListObject) and joint in by_name:
            while len(link):
                link.pop()
            link.append(by_name[joint])
    if not character.SetCharacterizeOn(True):
        raise HostError(f"HumanIK refused the source skeleton: {character.GetCharacterizeError()}")
    return character


def drive(target_name: str, source: FBCharacter) -> FBCharacter:
    """Make the user's character follow the source through HumanIK."""
    target = _find_character(target_name)
    if target is None:
        raise HostError(f"no character named {target_name!r}; characterise your rig, then pick it in the Character list")
    target.InputCharacter = source
    target.InputType = FBCharacterInputType.kFBCharacterInputCharacter
    target.ActiveInput = True
    return target


def plot(target_name: str) -> None:
    """Bake the HumanIK result onto the character's own skeleton in the current take."""
    target = _find_character(target_name)
    if target is None:
        raise HostError(f"no character named {target_name!r} to plot onto")
    options = FBPlotOptions()
    options.PlotAllTakes = False
    options.UseConstantKeyReducer = False
    if not target.PlotAnimation(FBCharacterPlotWhere.kFBCharacterPlotOnSkeleton, options):
        raise HostError(f"MotionBuilder could not plot onto {target_name!r}; check that its input is {CHARACTER}")
