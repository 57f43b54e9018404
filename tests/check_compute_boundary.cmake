# The compute boundary (src/backend/backend.h): code above it composes ops and never touches a tensor's elements
# itself. This check fails when a source file of a guarded folder does: a raw pointer to elements (.data(),
# .idata()), an element read or written by a loop index (x[i]), or a parallel region of its own.
#   cmake -DSOURCE_DIR=<repo> -DGUARDED=src/optim,src/losses,src/layers/dense.cpp -P check_compute_boundary.cmake
# A folder or file joins GUARDED (tests/CMakeLists.txt) when its last loop has moved into the backend.
set(patterns
  "\\.data\\(\\)" "a pointer to a tensor's elements"
  "\\.idata\\(\\)" "a pointer to a tensor's ids"
  "[A-Za-z_]\\[[a-z]\\]" "an element indexed by a loop variable"
  "#pragma omp" "a parallel region")
string(REPLACE "," ";" GUARDED "${GUARDED}")
list(LENGTH patterns n)
math(EXPR last "${n} - 1")
set(bad "")
set(count 0)
foreach(path ${GUARDED})
  if(IS_DIRECTORY "${SOURCE_DIR}/${path}")
    file(GLOB_RECURSE files "${SOURCE_DIR}/${path}/*.cpp" "${SOURCE_DIR}/${path}/*.h")
  elseif(EXISTS "${SOURCE_DIR}/${path}")
    set(files "${SOURCE_DIR}/${path}")
  else()
    message(FATAL_ERROR "compute boundary: ${path} does not exist")
  endif()
  foreach(f ${files})
    math(EXPR count "${count} + 1")
    file(STRINGS "${f}" lines)
    set(line_number 0)
    foreach(line IN LISTS lines)
      math(EXPR line_number "${line_number} + 1")
      foreach(i RANGE 0 ${last} 2)
        math(EXPR j "${i} + 1")
        list(GET patterns ${i} pattern)
        list(GET patterns ${j} what)
        if(line MATCHES "${pattern}")
          file(RELATIVE_PATH rel "${SOURCE_DIR}" "${f}")
          string(APPEND bad "  ${rel}:${line_number}: ${what}: ${line}\n")
        endif()
      endforeach()
    endforeach()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "code above the compute boundary touches tensor memory; move it into an op of "
                      "src/backend/backend.h:\n${bad}")
endif()
message(STATUS "compute boundary: ${count} files leave tensor memory to the backend")
