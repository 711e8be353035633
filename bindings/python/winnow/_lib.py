"""Loading libwinnow.so and declaring the C signatures of winnow.h.

The library is looked up in this order:

1. the ``WINNOW_LIBRARY`` environment variable (a path to the ``.so``);
2. the copy bundled in the installed package, ``winnow/_native/libwinnow.so``
   (the wheel from ``make wheel``);
3. the repository's build folder, ``.build/lib/libwinnow.so`` (``make lib``);
4. the system (``ctypes.util.find_library("winnow")``, then ``libwinnow.so``
   through the dynamic loader's search path).

Every function of ``winnow.h`` gets its ``argtypes`` and ``restype`` here,
so ctypes converts and checks arguments instead of guessing (a guessed
``int`` return would truncate pointers and ``size_t`` values).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

c_float_p = ctypes.POINTER(ctypes.c_float)
c_double_p = ctypes.POINTER(ctypes.c_double)
c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_uint16_p = ctypes.POINTER(ctypes.c_uint16)
c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_void_pp = ctypes.POINTER(ctypes.c_void_p)
c_uint64_p = ctypes.POINTER(ctypes.c_uint64)
c_float_pp = ctypes.POINTER(c_float_p)
c_uint16_pp = ctypes.POINTER(c_uint16_p)

_i32, _u32, _u64, _i64 = ctypes.c_int32, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int64
_size, _f32, _f64 = ctypes.c_size_t, ctypes.c_float, ctypes.c_double
_str, _ptr = ctypes.c_char_p, ctypes.c_void_p

#: name -> (restype, argtypes), one entry per function declared in winnow.h.
SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "wn_version": (_str, []),
    "wn_abi_version": (_u32, []),
    "wn_status_string": (_str, [_i32]),
    "wn_last_error": (_str, []),
    "wn_blas_core_name": (_str, []),
    "wn_blas_threads": (_i32, []),
    "wn_set_blas_threads": (_i32, [_i32]),
    # projector
    "wn_projector_create": (_i32, [c_void_pp, _i32, _u64, _size, _size, _size]),
    "wn_projector_free": (None, [_ptr]),
    "wn_projector_last_error": (_str, [_ptr]),
    "wn_projector_dims": (_i32, [_ptr, c_size_p, c_size_p]),
    "wn_projector_project_f32": (_i32, [_ptr, c_float_p, _size, c_float_p, _size]),
    "wn_projector_project_piece_f32": (
        _i32, [_ptr, c_float_p, _size, _size, _size, c_float_p, _size, _i32]),
    "wn_projector_project_f16": (_i32, [_ptr, c_uint16_p, _size, c_float_p, _size]),
    "wn_projector_project_piece_f16": (
        _i32, [_ptr, c_uint16_p, _size, _size, _size, c_float_p, _size, _i32]),
    # sparse JL projector
    "wn_sparse_projector_create": (_i32, [c_void_pp, _u64, _size, _size, _size]),
    "wn_sparse_projector_free": (None, [_ptr]),
    "wn_sparse_projector_last_error": (_str, [_ptr]),
    "wn_sparse_projector_dims": (_i32, [_ptr, c_size_p, c_size_p, c_size_p]),
    "wn_sparse_projector_project_piece_f32": (
        _i32, [_ptr, c_float_p, _size, _size, _size, c_float_p, _size, _i32]),
    "wn_sparse_projector_project_piece_f16": (
        _i32, [_ptr, c_uint16_p, _size, _size, _size, c_float_p, _size, _i32]),
    # factored projection and exact dot products
    "wn_factored_projector_create": (
        _i32, [c_void_pp, _size, c_uint64_p, c_size_p, c_size_p, c_size_p, c_size_p, _u64, _i32]),
    "wn_factored_projector_free": (None, [_ptr]),
    "wn_factored_projector_last_error": (_str, [_ptr]),
    "wn_factored_projector_dims": (_i32, [_ptr, c_size_p, c_size_p, c_size_p, _size]),
    "wn_factored_projector_project_f32": (
        _i32, [_ptr, _size, c_size_p, _size, _size, c_uint64_p, c_float_pp, c_float_pp,
               c_float_p, _size]),
    "wn_factored_projector_project_f16": (
        _i32, [_ptr, _size, c_size_p, _size, _size, c_uint64_p, c_uint16_pp, c_uint16_pp,
               c_float_p, _size]),
    "wn_factored_matrix_fill": (_i32, [_i32, _u64, _u64, _i32, _size, _size, c_float_p, _size]),
    "wn_ghost_gram_f32": (
        _i32, [_size, c_size_p, c_size_p, _size, c_size_p, _size, c_float_pp, c_float_pp, _i32,
               c_float_p, _size, c_int32_p]),
    "wn_ghost_target_dots_f32": (
        _i32, [_size, c_size_p, c_size_p, _size, c_size_p, _size, c_float_pp, c_float_pp,
               c_size_p, c_float_pp, c_float_pp, c_float_pp, _i32, c_float_p, _size,
               c_int32_p]),
    "wn_select_step_factors": (
        _i32, [_ptr, _size, c_size_p, _size, _size, c_uint64_p, c_float_pp, c_float_pp, _size,
               c_float_pp, c_float_pp, _size, _f32, c_int64_p, c_float_p, _size]),
    # Kronecker-factored curvature (K-FAC, EK-FAC)
    "wn_curvature_create": (_i32, [c_void_pp, _size, c_uint64_p, c_size_p, c_size_p]),
    "wn_curvature_free": (None, [_ptr]),
    "wn_curvature_last_error": (_str, [_ptr]),
    "wn_curvature_info": (_i32, [_ptr, c_int32_p, c_size_p, c_size_p, c_size_p, c_size_p, c_size_p]),
    "wn_curvature_layers": (_i32, [_ptr, c_uint64_p, c_size_p, c_size_p, _size]),
    "wn_curvature_accumulate_f32": (
        _i32, [_ptr, _size, c_size_p, _size, _size, c_uint64_p, c_float_pp, c_float_pp]),
    "wn_curvature_fit": (_i32, [_ptr]),
    "wn_curvature_accumulate_corrections_f32": (
        _i32, [_ptr, _size, c_size_p, _size, _size, c_uint64_p, c_float_pp, c_float_pp]),
    "wn_curvature_whiten_f32": (
        _i32, [_ptr, _f64, _i32, _size, _size, c_uint64_p, c_float_pp, c_float_pp, c_float_pp,
               c_float_pp, _size]),
    "wn_curvature_whitened_projector": (_i32, [_ptr, _f64, _i32, _ptr, c_void_pp]),
    "wn_curvature_features_f32": (
        _i32, [_ptr, _i32, _f64, _i32, _size, c_size_p, _size, _size, c_uint64_p, c_float_pp,
               c_float_pp, c_float_p, _size]),
    "wn_curvature_save": (_i32, [_ptr, _str]),
    "wn_curvature_load": (_i32, [c_void_pp, _str]),
    # piecewise scoring (cosine, dot)
    # a selection and its files
    "wn_selection_count": (_i32, [_i32, _f64, _size, c_size_p]),
    "wn_selection_create": (_i32, [c_void_pp, c_float_p, _size, _i32, _f64, _size]),
    "wn_selection_free": (None, [_ptr]),
    "wn_selection_last_error": (_str, [_ptr]),
    "wn_selection_indices": (_i32, [_ptr, c_int64_p, _size, c_size_p]),
    "wn_selection_write": (_i32, [_ptr, c_int64_p, _size, _str, _str, _str, _str]),
    # feature stores
    "wn_store_open": (_i32, [c_void_pp, _str, _i64, _i32]),
    "wn_store_free": (None, [_ptr]),
    "wn_store_last_error": (_str, [_ptr]),
    "wn_store_dims": (_i32, [_ptr, c_size_p, c_size_p, c_size_p]),
    "wn_store_read_f32": (_i32, [_ptr, _size, _size, c_float_p, _size]),
    "wn_store_ids": (_i32, [_ptr, _size, _size, c_int64_p, _size]),
    "wn_store_finish_verification": (_i32, [_ptr]),
    "wn_scorer_create": (
        _i32, [c_void_pp, _i32, _size, c_float_pp, c_size_p, _size, c_double_p, c_int64_p, _i32]),
    "wn_scorer_free": (None, [_ptr]),
    "wn_scorer_last_error": (_str, [_ptr]),
    "wn_scorer_dims": (_i32, [_ptr, c_size_p, c_size_p]),
    "wn_scorer_score_f32": (_i32, [_ptr, c_float_pp, _size, c_float_p, _size, c_size_p]),
    # selection
    "wn_select_top_k": (_i32, [c_float_p, _size, _size, c_int64_p, _size, c_size_p]),
    "wn_select_top_fraction": (_i32, [c_float_p, _size, _f64, c_int64_p, _size, c_size_p]),
    "wn_select_threshold": (_i32, [c_float_p, _size, _f32, c_int64_p, _size, c_size_p]),
    "wn_select_step": (
        _i32, [c_float_p, _size, _size, c_float_p, _size, _f32, c_int64_p, c_float_p, _size]),
    # engine
    "wn_param_bounds": (_i32, [_i32, c_double_p, c_double_p, c_int32_p]),
    "wn_param_default": (_i32, [_i32, c_double_p]),
    "wn_param_name": (_str, [_i32]),
    "wn_engine_create": (_i32, [c_void_pp, c_int64_p, c_int32_p, _size, _size, _size, _size]),
    "wn_engine_free": (None, [_ptr]),
    "wn_engine_last_error": (_str, [_ptr]),
    "wn_engine_dims": (_i32, [_ptr, c_size_p, c_size_p, c_size_p, c_size_p]),
    "wn_engine_set_param_f64": (_i32, [_ptr, _i32, _f64]),
    "wn_engine_set_param_i64": (_i32, [_ptr, _i32, _i64]),
    "wn_engine_get_param_f64": (_i32, [_ptr, _i32, c_double_p]),
    "wn_engine_set_initial_mixture": (_i32, [_ptr, c_double_p, _size]),
    "wn_engine_set_audit_log": (_i32, [_ptr, _str]),
    "wn_engine_begin_epoch": (_i32, [_ptr, _i64, _f64]),
    "wn_engine_add_target": (_i32, [_ptr, _size, c_float_p, _size, _size]),
    "wn_engine_add_target_gradients": (_i32, [_ptr, _ptr, _size, c_float_p, _size, _size]),
    "wn_engine_add_candidates": (
        _i32, [_ptr, c_int64_p, _size, c_float_p, _size, c_float_p, c_float_p]),
    "wn_engine_add_candidate_gradients": (
        _i32, [_ptr, _ptr, c_int64_p, _size, c_float_p, _size, c_float_p, c_float_p]),
    "wn_engine_end_epoch": (_i32, [_ptr, c_size_p]),
    "wn_engine_plan_size": (_i32, [_ptr, c_size_p, c_size_p]),
    "wn_engine_plan_info": (_i32, [_ptr, c_int64_p, c_int32_p, c_int32_p]),
    "wn_engine_plan_ids": (_i32, [_ptr, c_int64_p, _size]),
    "wn_engine_plan_weights": (_i32, [_ptr, c_float_p, _size]),
    "wn_engine_plan_probabilities": (_i32, [_ptr, c_double_p, _size]),
    "wn_engine_plan_mixture": (_i32, [_ptr, c_double_p, _size]),
    "wn_engine_plan_mixture_average": (_i32, [_ptr, c_double_p, _size]),
    "wn_engine_plan_domain_counts": (_i32, [_ptr, c_int64_p, _size]),
    "wn_engine_pool_probabilities": (_i32, [_ptr, c_double_p, _size]),
    "wn_engine_scores": (_i32, [_ptr, c_float_p, _size]),
    "wn_engine_add_target_factors": (
        _i32, [_ptr, _ptr, _size, _size, c_size_p, _size, _size, c_uint64_p, c_float_pp,
               c_float_pp]),
    "wn_engine_add_candidate_factors": (
        _i32, [_ptr, _ptr, c_int64_p, _size, c_size_p, _size, _size, c_uint64_p, c_float_pp,
               c_float_pp, c_float_p, c_float_p]),
    "wn_engine_select_step_factors": (
        _i32, [_ptr, _ptr, _size, c_size_p, _size, _size, c_uint64_p, c_float_pp, c_float_pp,
               _size, c_float_pp, c_float_pp, _size, _f32, c_int64_p, c_float_p, _size]),
    "wn_engine_select_step": (
        _i32, [_ptr, c_float_p, _size, _size, c_float_p, _size, _f32, c_int64_p, c_float_p,
               _size]),
}


def _candidates() -> list[str]:
    """Paths and names to try, in the documented order."""
    found = []
    if os.environ.get("WINNOW_LIBRARY"):
        found.append(os.environ["WINNOW_LIBRARY"])
    bundled = Path(__file__).resolve().parent / "_native" / "libwinnow.so"
    if bundled.exists():
        found.append(str(bundled))
    repo = Path(__file__).resolve().parents[3]
    found.append(str(repo / ".build" / "lib" / "libwinnow.so"))
    system = ctypes.util.find_library("winnow")
    if system:
        found.append(system)
    found.append("libwinnow.so")
    return found


def load() -> ctypes.CDLL:
    """Loads libwinnow.so (see the module docstring) and declares its functions.

    Raises ``OSError`` listing every place tried when none loads.
    """
    errors = []
    for candidate in _candidates():
        if os.sep in candidate and not os.path.exists(candidate):
            errors.append(f"{candidate}: no such file")
            continue
        try:
            lib = ctypes.CDLL(candidate)
        except OSError as error:
            errors.append(f"{candidate}: {error}")
            continue
        for name, (restype, argtypes) in SIGNATURES.items():
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = argtypes
        return lib
    raise OSError("cannot load libwinnow.so (run `make lib`, or set WINNOW_LIBRARY):\n  "
                  + "\n  ".join(errors))


lib = load()
