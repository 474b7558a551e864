"""Forma's Fast DDS profile: set for Fast DDS when nothing else is, never over a user's own profile
or another middleware; the shipped file names a 4 MB shared-memory segment."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from forma_common.dds import PROFILE_FILE, forma_dds_environment


def test_the_profile_is_set_for_fast_dds_only_and_never_over_the_users_own():
    assert forma_dds_environment({}) == {"FASTRTPS_DEFAULT_PROFILES_FILE": str(PROFILE_FILE)}
    assert forma_dds_environment({"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}) != {}
    assert forma_dds_environment({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}) == {}
    assert forma_dds_environment({"FASTRTPS_DEFAULT_PROFILES_FILE": "/mine.xml"}) == {}
    assert forma_dds_environment({"FASTDDS_DEFAULT_PROFILES_FILE": "/mine.xml"}) == {}


def test_the_shipped_profile_is_a_default_participant_with_a_4_mb_shared_memory_segment():
    ns = {"p": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    root = ET.parse(PROFILE_FILE).getroot()
    shm = [d for d in root.iterfind(".//p:transport_descriptor", ns) if d.findtext("p:type", "", ns) == "SHM"]
    assert [int(d.findtext("p:segment_size", "0", ns)) for d in shm] == [4 * 1024 * 1024]
    participant = root.find("p:participant", ns)
    assert participant.get("is_default_profile") == "true"
    used = {t.text for t in participant.iterfind(".//p:userTransports/p:transport_id", ns)}
    assert used == {d.findtext("p:transport_id", "", ns) for d in root.iterfind(".//p:transport_descriptor", ns)}
