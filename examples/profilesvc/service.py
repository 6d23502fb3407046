"""The profile service: profiles and their addresses, kept in memory."""

from __future__ import annotations

import msgspec

from kitcore import AlreadyExists, InvalidArgument, NotFound, method


class Address(msgspec.Struct):
    """A profile's address."""

    id: str
    location: str = ""


class Profile(msgspec.Struct):
    """A profile: a name and addresses."""

    id: str
    name: str = ""
    addresses: list[Address] = msgspec.field(default_factory=list)


def inconsistent_ids() -> InvalidArgument:
    """Go kit's ErrInconsistentIDs."""
    return InvalidArgument("inconsistent IDs")


class ProfileService:
    """CRUD on profiles and their addresses."""

    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}

    def _profile(self, id: str) -> Profile:
        profile = self.profiles.get(id)
        if profile is None:
            raise NotFound(f"no profile {id!r}")
        return profile

    @method(http="POST /profiles", body="profile")
    async def post_profile(self, profile: Profile) -> None:
        """Add a profile; its id must be new."""
        if profile.id in self.profiles:
            raise AlreadyExists(f"profile {profile.id!r} exists")
        self.profiles[profile.id] = profile

    @method(http="GET /profiles/{id}")
    async def get_profile(self, id: str) -> Profile:
        """Return a profile."""
        return self._profile(id)

    @method(http="PUT /profiles/{id}", body="profile")
    async def put_profile(self, id: str, profile: Profile) -> None:
        """Create or replace a profile; the body's id must match the path's."""
        if id != profile.id:
            raise inconsistent_ids()
        self.profiles[id] = profile

    @method(http="PATCH /profiles/{id}")
    async def patch_profile(
        self, id: str, name: str | None = None, addresses: list[Address] | None = None
    ) -> Profile:
        """Change the given fields of a profile."""
        profile = self._profile(id)
        if name is not None:
            profile.name = name
        if addresses is not None:
            profile.addresses = addresses
        return profile

    @method(http="DELETE /profiles/{id}")
    async def delete_profile(self, id: str) -> None:
        """Remove a profile."""
        self._profile(id)
        del self.profiles[id]

    @method(http="GET /profiles/{id}/addresses")
    async def get_addresses(self, id: str) -> list[Address]:
        """Return a profile's addresses."""
        return self._profile(id).addresses

    @method(http="GET /profiles/{id}/addresses/{address_id}")
    async def get_address(self, id: str, address_id: str) -> Address:
        """Return one address of a profile."""
        for address in self._profile(id).addresses:
            if address.id == address_id:
                return address
        raise NotFound(f"no address {address_id!r} in profile {id!r}")

    @method(http="POST /profiles/{id}/addresses", body="address")
    async def post_address(self, id: str, address: Address) -> None:
        """Add an address to a profile; its id must be new there."""
        profile = self._profile(id)
        if any(a.id == address.id for a in profile.addresses):
            raise AlreadyExists(f"address {address.id!r} exists in profile {id!r}")
        profile.addresses.append(address)

    @method(http="DELETE /profiles/{id}/addresses/{address_id}")
    async def delete_address(self, id: str, address_id: str) -> None:
        """Remove an address from a profile."""
        profile = self._profile(id)
        kept = [a for a in profile.addresses if a.id != address_id]
        if len(kept) == len(profile.addresses):
            raise NotFound(f"no address {address_id!r} in profile {id!r}")
        profile.addresses = kept
