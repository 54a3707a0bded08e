"""USD (.usd/.usdc crate, .usda text) through usd-core: UsdSkel Skeleton + one SkelAnimation per take.

    /Root            SkelRoot (defaultPrim)
      Skeleton       Skeleton; variant set "take" picks skel:animationSource
      Body           Mesh skinned to Skeleton (optional)
      Takes/<name>   SkelAnimation per take (customData: prompt, seed, model)

The animation source is authored only inside the variants: a direct binding outside them
would be the stronger opinion and silently override every variant choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pxr import Gf, Sdf, Usd, UsdGeom, UsdSkel, Vt

from motionbridge.rigs import Clip, quat
from motionbridge.rigs.skeleton import UNITS

from .atomic import atomic_path
from .body import body_mesh
from .prepare import Prepared, check_option, prepare

FORMATS = {".usd": "usdc", ".usdc": "usdc", ".usda": "usda"}
TAKE_VARIANT_SET = "take"


def joint_paths(prep: Prepared) -> list[str]:
    skel = prep.skeleton
    paths: list[str] = []
    for j, name in enumerate(prep.joint_names):
        p = int(skel.parents[j])
        paths.append(name if p < 0 else f"{paths[p]}/{name}")
    return paths


def _matrices(rot: np.ndarray, pos: np.ndarray) -> Vt.Matrix4dArray:
    """USD matrices are row-vector (translation in the last row): the transpose of ours."""
    m = np.zeros((len(rot), 4, 4))
    m[:, :3, :3] = np.swapaxes(quat.to_matrix(rot), 1, 2)
    m[:, 3, :3] = pos
    m[:, 3, 3] = 1.0
    return Vt.Matrix4dArray.FromNumpy(m)


def _quatf(q: np.ndarray) -> Vt.QuatfArray:
    # GfQuatf is laid out as (imaginary xyz, real w): our xyzw order, so no per-element copy.
    return Vt.QuatfArray.FromNumpy(np.ascontiguousarray(q, dtype=np.float32))


def build(takes: Sequence[Clip], names: Sequence[str], up: str = "y", units: str = "m", body: bool = False) -> tuple[Usd.Stage, list[str]]:
    check_option("up", up, ("y", "z"))
    check_option("units", units, ("m", "cm"))
    prep = prepare(takes, names, "usd", up=up, units=units)
    fps = {c.fps for c in prep.clips}
    if len(fps) > 1:
        raise ValueError(f"takes in one USD file must share a frame rate, got {sorted(fps)}; write them to separate files")
    rate = float(fps.pop())
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y if up == "y" else UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, UNITS[units])
    stage.SetTimeCodesPerSecond(rate)
    stage.SetFramesPerSecond(rate)
    stage.SetStartTimeCode(0)
    stage.SetEndTimeCode(max(c.num_frames for c in prep.clips) - 1)

    root = UsdSkel.Root.Define(stage, "/Root")
    stage.SetDefaultPrim(root.GetPrim())
    skel_prim = UsdSkel.Skeleton.Define(stage, "/Root/Skeleton")
    skel = prep.skeleton
    joints = Vt.TokenArray(joint_paths(prep))
    rest_rot, rest_pos = skel.rest_world()
    skel_prim.CreateJointsAttr(joints)
    skel_prim.CreateJointNamesAttr(Vt.TokenArray(prep.joint_names))
    skel_prim.CreateBindTransformsAttr(_matrices(rest_rot, rest_pos))
    skel_prim.CreateRestTransformsAttr(_matrices(skel.rest_rotations, skel.rest_translations))
    binding = UsdSkel.BindingAPI.Apply(skel_prim.GetPrim())

    if body:
        mesh = body_mesh(skel)
        geom = UsdGeom.Mesh.Define(stage, "/Root/Body")
        geom.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(mesh.vertices.astype(np.float32)))
        geom.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(mesh.faces), 3, dtype=np.int32)))
        geom.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(mesh.faces.astype(np.int32).reshape(-1)))
        geom.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
        mesh_binding = UsdSkel.BindingAPI.Apply(geom.GetPrim())
        mesh_binding.CreateSkeletonRel().SetTargets([skel_prim.GetPath()])
        mesh_binding.CreateJointIndicesPrimvar(False, 4).Set(Vt.IntArray.FromNumpy(mesh.joints.astype(np.int32).reshape(-1)))
        mesh_binding.CreateJointWeightsPrimvar(False, 4).Set(Vt.FloatArray.FromNumpy(mesh.weights.astype(np.float32).reshape(-1)))
        mesh_binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))

    UsdGeom.Scope.Define(stage, "/Root/Takes")
    anim_paths = []
    for clip, take in zip(prep.clips, prep.take_names):
        anim = UsdSkel.Animation.Define(stage, f"/Root/Takes/{take}")
        anim.CreateJointsAttr(joints)
        n = skel.num_joints
        t_attr, r_attr = anim.CreateTranslationsAttr(), anim.CreateRotationsAttr()
        anim.CreateScalesAttr(Vt.Vec3hArray.FromNumpy(np.ones((n, 3), dtype=np.float16)))
        translations = np.broadcast_to(skel.rest_translations, (clip.num_frames, n, 3)).astype(np.float32)
        translations[:, 0] = clip.root_translation
        rotations = clip.rotations.astype(np.float32)
        with Sdf.ChangeBlock():  # one change notification for all samples, not one per Set
            for f in range(clip.num_frames):
                t_attr.Set(Vt.Vec3fArray.FromNumpy(translations[f]), Usd.TimeCode(f))
                r_attr.Set(_quatf(rotations[f]), Usd.TimeCode(f))
        meta = {k: str(clip.metadata[k]) for k in ("prompt", "seed", "model") if k in clip.metadata}
        anim.GetPrim().SetCustomData({"motionbridge": meta, "frames": clip.num_frames})
        anim_paths.append(anim.GetPath())

    variants = skel_prim.GetPrim().GetVariantSets().AddVariantSet(TAKE_VARIANT_SET)
    for take, anim_path in zip(prep.take_names, anim_paths):
        variants.AddVariant(take)
        variants.SetVariantSelection(take)
        with variants.GetVariantEditContext():
            binding.CreateAnimationSourceRel().SetTargets([anim_path])
    variants.SetVariantSelection(prep.take_names[0])
    return stage, prep.warnings


def write(path: Path, takes: Sequence[Clip], names: Sequence[str], **options: Any) -> list[str]:
    """Registry entry point; options: up ('y'|'z', default y), units ('m'|'cm', default m), body (bool)."""
    unknown = set(options) - {"up", "units", "body"}
    if unknown:
        raise ValueError(f"unknown USD options {sorted(unknown)}; use up, units, body")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"USD files end in {', '.join(FORMATS)}, not {path.suffix!r}")
    stage, warnings = build(takes, names, up=options.get("up") or "y", units=options.get("units") or "m", body=bool(options.get("body")))
    with atomic_path(path, suffix="." + fmt) as tmp:
        if not stage.GetRootLayer().Export(str(tmp), "", {"format": fmt}):
            raise OSError(f"usd-core could not write {path}")
    return warnings
