"""Writes a NIfTI volume as a DICOM series (one file per k-slice, 16-bit MR), for the engine's DICOM
input test: the series decodes to the same voxel grid as the NIfTI, so both inputs must segment alike.

Usage: /usr/bin/python3 test/engine/make_dicom_series.py IMAGE.nii.gz OUT_DIR
"""

import os
import sys

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid


def main() -> None:
    src, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)
    im = nib.load(src)
    data = np.asarray(im.dataobj).astype(np.uint16)
    lps = np.diag([-1, -1, 1, 1]) @ im.affine  # NIfTI RAS+ world -> DICOM LPS
    zooms = im.header.get_zooms()[:3]
    row_dir = lps[:3, 0] / np.linalg.norm(lps[:3, 0])  # along i = DICOM columns
    col_dir = lps[:3, 1] / np.linalg.norm(lps[:3, 1])  # along j = DICOM rows
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(data.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b'\0' * 128)
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = 'MR'
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.InstanceNumber = k + 1
        ds.Rows, ds.Columns = data.shape[1], data.shape[0]
        ds.PixelSpacing = [float(zooms[1]), float(zooms[0])]
        ds.SliceThickness = float(zooms[2])
        ds.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
        ds.ImagePositionPatient = [float(v) for v in (lps @ [0, 0, k, 1])[:3]]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = 'MONOCHROME2'
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.ascontiguousarray(data[:, :, k].T).tobytes()  # rows = j, columns = i
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(os.path.join(out, f'slice{k:04d}.dcm'), write_like_original=False)


if __name__ == '__main__':
    main()
