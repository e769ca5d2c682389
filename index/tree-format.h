/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The canonical encoding of a tree (one directory); its SHA-256 is the
 * tree's id, so the same directory always has the same id.
 *
 *   le32 magic "ISLT"   le32 version (1)   le32 entry count   le32 flags (0)
 *   count x entry, sorted by name (bytewise), names unique:
 *     u8 kind  u8 reserved(0)  le16 name length  le32 mode
 *     le64 size  id[32]  name bytes (no NUL)
 *
 * kind: 1 file (id = blob id, size = file size), 2 directory (id = tree id,
 * size = sum of the sizes of the entries below: file sizes and
 * symlink target lengths), 3 symlink (id = blob holding the target,
 * size = target length). mode: permission bits only (07777). Names are
 * 1..255 bytes, with no '/' or NUL, and never "." or "..". */

#include <assert.h>

#define TREE_MAGIC 0x544c5349u /* "ISLT" */
#define TREE_VERSION 1
#define TREE_HEADER_SIZE 16
#define TREE_ENTRY_FIXED_SIZE 48
#define TREE_NAME_MAX 255
