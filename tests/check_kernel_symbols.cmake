# Every global symbol a kernel variant's object files define must be in that variant's namespace
# (src/kernels/isa.h): an inline function or template instantiated there under a shared name could be the one
# copy the linker keeps for all variants, and then AVX-512 code would run on a CPU without AVX-512.
#   cmake -DNM=nm -DVARIANT=avx512 -DOBJECTS="a.o;b.o" -P check_kernel_symbols.cmake
set(bad "")
foreach(obj ${OBJECTS})
  execute_process(COMMAND ${NM} -C --defined-only ${obj} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${obj}")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  foreach(line ${lines})
    if(line MATCHES "^[0-9a-f]* [A-Zu] (.*)$")
      set(name "${CMAKE_MATCH_1}")
      string(LENGTH "${VARIANT}" n)
      # AddressSanitizer's ODR indicators carry the variable's mangled name (__odr_asan._ZN6seqnet7kernels4avx2...).
      if(NOT name MATCHES "seqnet::kernels::${VARIANT}::" AND NOT name STREQUAL "DW.ref.__gxx_personality_v0"
         AND NOT name MATCHES "^__odr_asan\\._ZN6seqnet7kernels${n}${VARIANT}")
        string(APPEND bad "  ${obj}: ${name}\n")
      endif()
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "kernel variant ${VARIANT} defines global symbols outside seqnet::kernels::${VARIANT}:\n${bad}")
endif()
list(LENGTH OBJECTS n)
message(STATUS "kernel variant ${VARIANT}: every global symbol of its ${n} object files is its own")
